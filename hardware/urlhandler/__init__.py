"""pyserial URL handlers for the emulators: idcardsim://NAME, pn532sim://NAME, escpossim://NAME."""
