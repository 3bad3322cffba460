"""Use cases and queries: what a person or a job can do, checked by the domain, stored by storage.
Listeners (handlers/) reach the rest of the bot only through here."""
