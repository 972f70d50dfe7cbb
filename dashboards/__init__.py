"""The dashboards: static pages (one module per page) built from the store's files by ``pvmon publish``."""
