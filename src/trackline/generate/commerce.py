"""Row makers for the commerce datasets: products, users, carts, orders, stock, activity.

Each keeps the business's own rules (a cart's lines name different products, an order's
events follow its lifecycle, stock never goes below zero) so the only broken records are the
ones made invalid on purpose.
"""

from __future__ import annotations

from collections.abc import Callable

from trackline.generate.context import Ctx
from trackline.generate.vocabulary import (
    ACTIVITIES,
    CART_ACTIONS,
    CATEGORIES,
    COUNTRIES,
    CURRENCY,
    EMAIL_DOMAINS,
    FAKESTORE_PRODUCTS,
    FAKESTORE_USERS,
    FIRST,
    FX,
    LAST,
    LIFECYCLES,
    MOVEMENTS,
    PAGES,
    PAYMENTS,
    PRODUCT_WORDS,
    QUERIES,
    REASONS,
    SHOP_DEVICES,
    WAREHOUSES,
)


def product(c: Ctx) -> None:
    category = CATEGORIES.pick(c.rand)
    adjectives, nouns, lo, hi = PRODUCT_WORDS[category]
    adj, noun = c.one_of(adjectives), c.one_of(nouns)
    c.v["title"] = f"{adj} {noun}"
    c.v["price"] = round(lo + (hi - lo) * c.rand() ** 3, 2)  # most things are cheap
    c.v["category"] = category
    c.v["description"] = f"{adj} {noun.lower()} for every day. {c.between(1, 5)}-year warranty."
    c.v["image"] = f"https://fakestoreapi.com/img/{c.b62(10)}_AC_SL1500_.jpg"
    c.v["rating_rate"] = round(max(0.0, min(5.0, c.rng.gauss(3.9, 0.8))), 1)
    c.v["rating_count"] = int(c.rand() ** 2 * 700)


def shop_user(c: Ctx) -> None:
    first, last = c.one_of(FIRST), c.one_of(LAST)
    domain = c.one_of(EMAIL_DOMAINS)
    suffix = str(c.between(1, 999)) if c.rand() < 0.5 else ""
    c.v["email"] = f"{first}.{last}{c.serial}@{domain}".lower()
    c.v["username"] = f"{first[0]}{last}{suffix}".lower()
    c.v["firstname"], c.v["lastname"] = first.lower(), last.lower()
    c.v["zipcode"] = f"{c.between(10000, 99999)}-{c.between(1000, 9999)}"
    c.v["phone"] = f"1-{c.between(200, 999)}-{c.between(100, 999)}-{c.between(1000, 9999)}"


def cart_line(c: Ctx) -> None:
    """One line of a cart: a cart's lines share its id, user and date, products differ."""
    if c.new_group():
        c.size = 1 + int(c.rand() ** 2 * 5)
        c.g = {
            "cart_id": c.groups,
            "user_id": FAKESTORE_USERS.pick(c.rand),
            "date": c.ts(),
            "products": c.distinct(FAKESTORE_PRODUCTS, c.size),
        }
    c.v["product_id"] = c.g["products"][c.pos]
    c.v["quantity"] = 1 + int(c.rand() ** 3 * 9)


def order_event(c: Ctx) -> None:
    """An order's events follow its lifecycle: created, paid, shipped, delivered..."""
    if c.new_group():
        lifecycle = LIFECYCLES.pick(c.rand)
        c.size = len(lifecycle)
        country = COUNTRIES.pick(c.rand)
        currency = CURRENCY.get(country, "USD")
        fx = FX.get(currency, 1.0)
        items = 1 + int(c.rand() ** 3 * 9)
        usd = sum(5 + c.rand() ** 2 * 195 for _ in range(items))
        total = float(round(usd * fx)) if fx > 100 else round(usd * fx, 2)  # no yen cents
        share = c.rand()  # most orders have no discount; some leave the field out
        discount = None if share > 0.85 else 0.0 if share < 0.6 else round(total * share / 4, 2)
        c.g = {
            "lifecycle": lifecycle,
            "order_id": f"ord_{c.b62(12)}",
            "customer_id": f"cust_{1 + int(c.rand() ** 2 * 5000):05d}",
            "items_count": items,
            "total_amount": total,
            "discount_amount": discount,
            "currency": currency,
            "payment_method": PAYMENTS.pick(c.rand),
            "country": country,
        }
    c.v["status"] = c.g["lifecycle"][c.pos]


def stock_movement(c: Ctx) -> None:
    """Quantities follow the reason (sales remove, restocks add); stock never goes below 0."""
    product, warehouse = str(FAKESTORE_PRODUCTS.pick(c.rand)), WAREHOUSES.pick(c.rand)
    reason = REASONS.pick(c.rand)
    change = c.between(*MOVEMENTS[reason])
    stock = c.stock.get((product, warehouse)) or c.between(50, 400)
    if stock + change < 0:
        reason, change = "restock", c.between(50, 400)
    c.stock[(product, warehouse)] = stock + change
    c.v["product_id"], c.v["warehouse_id"], c.v["reason"] = product, warehouse, reason
    c.v["quantity_change"], c.v["quantity_after"] = change, stock + change
    c.v["unit_cost"] = round(2 + (int(product) * 7919 % 997) / 5, 2)  # fixed per product


def shop_activity(c: Ctx) -> None:
    """A shop session's page views, searches and cart actions; cart actions name a product."""
    if c.new_group():
        c.size = c.between(3, 15)
        c.user = c.world.listeners.pick(c.rand)
        c.g = {"session_id": c.uuid(), "device": SHOP_DEVICES.pick(c.rand)}
    kind = ACTIVITIES.pick(c.rand)
    product = str(FAKESTORE_PRODUCTS.pick(c.rand))
    on_product = kind in CART_ACTIONS or (kind == "page_view" and c.rand() < 0.6)
    c.v["activity_type"] = kind
    c.v["product_id"] = product if on_product else None
    c.v["page"] = f"/products/{product}" if on_product else PAGES.get(kind, "/")
    c.v["search_query"] = QUERIES.pick(c.rand) if kind == "search" else None
    c.v["duration_ms"] = 0 if kind == "logout" else int(c.rand() ** 2 * 120_000)


ROW_MAKERS: dict[str, Callable[[Ctx], None]] = {
    "product": product,
    "shop_user": shop_user,
    "cart_line": cart_line,
    "order_event": order_event,
    "stock_movement": stock_movement,
    "shop_activity": shop_activity,
}
