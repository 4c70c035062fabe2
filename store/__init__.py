"""SQLAlchemy models and the queries that the API and the worker share."""
