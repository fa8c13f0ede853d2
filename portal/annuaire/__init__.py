"""The annuaire: national MSSanté entries and RPPS activities, searched fast; the MSSanté trust space."""

from portal.annuaire.service import is_trusted, search

__all__ = ["is_trusted", "search"]
