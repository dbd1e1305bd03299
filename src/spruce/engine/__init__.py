"""The query engine: filters, scoring and search over stored records."""
