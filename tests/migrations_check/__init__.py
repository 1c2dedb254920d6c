"""A database made and filled at commit d4054a3 (before models moved between apps) migrated by the current code:
every row, link, permission and admin entry must survive (`test_from_d4054a3`; the dump is made by `make_dump`)."""
