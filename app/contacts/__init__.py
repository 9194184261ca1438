"""Contacts: the people a sales team works with."""
