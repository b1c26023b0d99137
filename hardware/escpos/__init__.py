"""ESC/POS queue-ticket printer."""
