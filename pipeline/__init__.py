"""No Scrapy here: fetched page -> Article -> the SQLite store."""
