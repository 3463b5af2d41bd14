"""The Scrapy project: everything that fetches."""
