"""The Azure package: the only code in the portal that imports `azure.*`.

It turns Azure Resource Manager into plain functions over plain data (ARM JSON dicts), raising only the errors in
portal.arm.errors. Credentials and clients are built once per process per connection (session.py); operations
are in operations.py. When Azure changes, this is the one place to change.
"""
