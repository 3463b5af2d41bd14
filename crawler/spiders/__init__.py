"""One spider per kind of source: feed, search, listing, sitemap."""
