"""One search box over contacts, companies and deals (trigram and full-text)."""
