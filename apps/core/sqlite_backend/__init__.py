"""Django's SQLite backend, with writers queueing for the write lock (see ``base``)."""
