//! Integration tests against the real RabbitMQ from scripts/brokers.
