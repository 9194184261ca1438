"""Likely duplicate contacts and companies, and merging two into one."""
