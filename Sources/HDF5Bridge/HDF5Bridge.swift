// Swift over libhdf5.
