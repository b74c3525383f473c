"""The canonical JSON Schemas, shipped as package data so an installed hub finds them."""
