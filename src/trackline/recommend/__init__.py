"""Recommendations from listening history (implicit feedback), for a member or a group."""
