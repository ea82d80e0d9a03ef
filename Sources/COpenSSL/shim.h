// SHA-256 from Debian's libcrypto (OpenSSL 3): file and work-list hashes.
#include <openssl/evp.h>
