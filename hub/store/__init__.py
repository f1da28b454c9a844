"""SQLite and the disk: schema and connection, the event journal, users and codes,
contacts, push subscriptions, the disk reserve."""
