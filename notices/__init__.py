"""The information-notice feature: usagers, DMP notices, opposition links and their proof."""
