"""SQLAlchemy 2 models. Each service owns its database, so each has its own metadata:
`shop` (shop_api and the shop-side consumers) and `factory` (factory_api and its consumer)."""
