// PNG rendering over libpng.
