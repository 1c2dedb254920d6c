"""Date formats for the admin and `{{ value }}` of a date in templates: the portal's one format (see when.py)."""
