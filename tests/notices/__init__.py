"""Tests of the notices feature: usagers, the notice plan."""
