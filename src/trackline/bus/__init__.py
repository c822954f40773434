"""The event bus: one small protocol, backends chosen by URI scheme (see base.py)."""

from trackline.bus.base import Bus, Capabilities, Message, Outgoing, open_bus

__all__ = ["Bus", "Capabilities", "Message", "Outgoing", "open_bus"]
