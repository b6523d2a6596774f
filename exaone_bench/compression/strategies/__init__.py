"""The structural strategies, one file each, found by the registry through their NAME."""
