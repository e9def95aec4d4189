-- Who sells a title: its owner in the catalog when the offer was made (a creator selling their own title, or
-- the owner of a title an admin put on sale). Orders of an offer keep it, so a creator's sales and revenue are
-- one indexed read. NULL for subscriptions (the platform's) and for rows made before this migration.
ALTER TABLE commerce_offers ADD COLUMN seller_id TEXT;
ALTER TABLE commerce_orders ADD COLUMN seller_id TEXT;
CREATE INDEX commerce_orders_seller ON commerce_orders (seller_id, id);
