/*
 * provision.c - keys, certificates and TLSA data for provisioning DNS-bound
 * identities (see dance/provision.h).
 *
 * OpenSSL does all the cryptography and encoding; this file only chooses
 * the parameters (key types, extensions, digests) and turns OpenSSL's error
 * queue into reasons a user can act on. Files are read whole into memory
 * (bounded) so that key material can be wiped afterwards and so that a
 * device file or a FIFO cannot make the PEM reader loop forever; they are
 * written to a temporary file first and then linked or renamed into place
 * so that no reader ever sees half a key.
 *
 * Ownership: returned OpenSSL objects belong to the caller; inputs are
 * borrowed and never modified.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "dance/error.h"
#include "dance/name.h"
#include "dance/provision.h"

/* Largest PEM file we read. A device chain is a few KiB; the Debian CA
 * bundle is about 200 KiB. */
#define PROVISION_FILE_MAX (4u * 1024 * 1024)

/* Longest common name X.509 allows (ub-common-name, RFC 5280 appendix A). */
#define PROVISION_CN_MAX 64

static const char *const key_type_names[DANCE_KEY_TYPE_COUNT] = {
    [DANCE_KEY_EC256] = "ec256",
    [DANCE_KEY_EC384] = "ec384",
    [DANCE_KEY_EC521] = "ec521",
    [DANCE_KEY_RSA2048] = "rsa2048",
    [DANCE_KEY_RSA3072] = "rsa3072",
    [DANCE_KEY_ED25519] = "ed25519",
};

/* ossl_reason - the most telling OpenSSL reason on the queue, then clear it.
 * The first error queued is the root cause ("wrong tag"); later ones are
 * the callers giving up ("nested asn1 error"). */
static const char *ossl_reason(char *buf, size_t len)
{
    unsigned long e = ERR_peek_error();
    const char *r;

    if (e == 0) {
        snprintf(buf, len, "unknown OpenSSL error");
    } else if ((r = ERR_reason_error_string(e)) != NULL) {
        snprintf(buf, len, "%s", r);
    } else {
        ERR_error_string_n(e, buf, len);
    }
    ERR_clear_error();
    return buf;
}

/* pem_no_block - true when the queue says "no (more) PEM block of that
 * kind": the normal end of a file, not damage. */
static bool pem_no_block(void)
{
    unsigned long e = ERR_peek_last_error();

    return ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
}

int dance_key_type_parse(const char *name, dance_key_type *out)
{
    int i;

    if (name == NULL)
        return -1;
    for (i = 0; i < DANCE_KEY_TYPE_COUNT; i++) {
        if (strcmp(name, key_type_names[i]) == 0) {
            *out = (dance_key_type)i;
            return 0;
        }
    }
    return -1;
}

const char *dance_key_type_name(dance_key_type type)
{
    if ((int)type < 0 || type >= DANCE_KEY_TYPE_COUNT)
        return "unknown";
    return key_type_names[type];
}

/* dance_key_generate - one fresh key of a known type */
EVP_PKEY *dance_key_generate(dance_key_type type, char *err, size_t errlen)
{
    EVP_PKEY *key = NULL;
    char why[160];

    if ((int)type < 0 || type >= DANCE_KEY_TYPE_COUNT) {
        dance_set_err(err, errlen, "unknown key type %d", (int)type);
        return NULL;
    }
    ERR_clear_error();
    switch (type) {
    case DANCE_KEY_EC256:   key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"); break;
    case DANCE_KEY_EC384:   key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384"); break;
    case DANCE_KEY_EC521:   key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521"); break;
    case DANCE_KEY_RSA2048: key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048); break;
    case DANCE_KEY_RSA3072: key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072); break;
    case DANCE_KEY_ED25519: key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"); break;
    case DANCE_KEY_TYPE_COUNT:
        break;
    }
    if (key == NULL)
        dance_set_err(err, errlen, "cannot generate a %s key: %s",
                      key_type_names[type], ossl_reason(why, sizeof(why)));
    return key;
}

/* read_file - a whole regular file into a fresh buffer (NUL-terminated,
 * not counted in *lenp). what names the content for the reason. */
static int read_file(const char *path, const char *what, unsigned char **bufp,
                     size_t *lenp, char *err, size_t errlen)
{
    struct stat st;
    unsigned char *buf;
    size_t len = 0;
    ssize_t n;
    int fd;

    if (path == NULL || *path == '\0') {
        dance_set_err(err, errlen, "cannot read %s: no file name given", what);
        return -1;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        dance_set_err(err, errlen, "cannot read %s from %s: %s", what, path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0) {
        dance_set_err(err, errlen, "cannot read %s from %s: %s", what, path, strerror(errno));
        close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        dance_set_err(err, errlen, "cannot read %s from %s: not a regular file", what, path);
        close(fd);
        return -1;
    }
    if ((uintmax_t)st.st_size > PROVISION_FILE_MAX) {
        dance_set_err(err, errlen, "cannot read %s from %s: file larger than %u bytes",
                      what, path, PROVISION_FILE_MAX);
        close(fd);
        return -1;
    }
    /* +1 for the NUL, and one more byte so a file that grew is noticed */
    buf = malloc((size_t)st.st_size + 2);
    if (buf == NULL) {
        dance_set_err(err, errlen, "cannot read %s from %s: out of memory", what, path);
        close(fd);
        return -1;
    }
    for (;;) {
        n = read(fd, buf + len, (size_t)st.st_size + 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len > (size_t)st.st_size)
            break;
    }
    if (n < 0 || len > (size_t)st.st_size) {
        dance_set_err(err, errlen, "cannot read %s from %s: %s", what, path,
                      n < 0 ? strerror(errno) : "file changed while being read");
        OPENSSL_cleanse(buf, len);
        free(buf);
        close(fd);
        return -1;
    }
    close(fd);
    buf[len] = '\0';
    *bufp = buf;
    *lenp = len;
    return 0;
}

/* no_passphrase_cb - refuse to prompt: tools and daemons have no terminal
 * to ask on, and a hang is worse than a clear error. */
static int no_passphrase_cb(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    *(int *)u = 1;
    return -1;
}

/* key_from_buf - an unencrypted PEM private key from len bytes at buf
 * (NUL-terminated), read from `where` ("dev.pem", "the PEM text") */
static EVP_PKEY *key_from_buf(const unsigned char *buf, size_t len, const char *where,
                              char *err, size_t errlen)
{
    BIO *bio;
    EVP_PKEY *key;
    int asked = 0;
    char why[160];

    ERR_clear_error();
    if (len > INT_MAX || (bio = BIO_new_mem_buf(buf, (int)len)) == NULL) {
        dance_set_err(err, errlen, "cannot read private key from %s: %s", where,
                      len > INT_MAX ? "too large" : ossl_reason(why, sizeof(why)));
        return NULL;
    }
    key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase_cb, &asked);
    BIO_free(bio);
    if (key != NULL) {
        ERR_clear_error();
        return key;
    }
    /* OpenSSL 3's decoders report a missing block and a damaged one alike
     * ("unsupported"): look at the text to say which. */
    if (asked) {
        ERR_clear_error();
        dance_set_err(err, errlen, "cannot read private key from %s: the key is encrypted; "
                      "decrypt it first (openssl pkey -in %s -out PLAIN.pem)", where, where);
    } else if (strstr((const char *)buf, "PRIVATE KEY-----") == NULL || pem_no_block()) {
        ERR_clear_error();
        dance_set_err(err, errlen, "cannot read private key from %s: no PEM private key "
                      "block found (-----BEGIN PRIVATE KEY-----)", where);
    } else {
        dance_set_err(err, errlen, "cannot read private key from %s: the PEM private key "
                      "is damaged or of an unsupported type (%s)", where,
                      ossl_reason(why, sizeof(why)));
    }
    return NULL;
}

/* pem_copy - len bytes of caller's PEM text as a NUL-terminated copy, so
 * that the text checks above may use string functions */
static unsigned char *pem_copy(const void *pem, size_t len, const char *what,
                               char *err, size_t errlen)
{
    unsigned char *buf;

    if (pem == NULL && len > 0) {
        dance_set_err(err, errlen, "cannot read %s: no PEM text given", what);
        return NULL;
    }
    if (len > PROVISION_FILE_MAX) {
        dance_set_err(err, errlen, "cannot read %s from the PEM text: larger than %u bytes",
                      what, PROVISION_FILE_MAX);
        return NULL;
    }
    if ((buf = malloc(len + 1)) == NULL) {
        dance_set_err(err, errlen, "cannot read %s: out of memory", what);
        return NULL;
    }
    if (len > 0)
        memcpy(buf, pem, len);
    buf[len] = '\0';
    return buf;
}

/* dance_key_load - an unencrypted PEM private key */
EVP_PKEY *dance_key_load(const char *path, char *err, size_t errlen)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    EVP_PKEY *key;

    if (read_file(path, "private key", &buf, &len, err, errlen) != 0)
        return NULL;
    key = key_from_buf(buf, len, path, err, errlen);
    OPENSSL_cleanse(buf, len);
    free(buf);
    return key;
}

/* dance_key_from_pem - dance_key_load from memory */
EVP_PKEY *dance_key_from_pem(const void *pem, size_t len, char *err, size_t errlen)
{
    unsigned char *buf = pem_copy(pem, len, "private key", err, errlen);
    EVP_PKEY *key;

    if (buf == NULL)
        return NULL;
    key = key_from_buf(buf, len, "the PEM text", err, errlen);
    OPENSSL_cleanse(buf, len);
    free(buf);
    return key;
}

/* write_all - the whole buffer, retrying short writes */
static int write_all(int fd, const unsigned char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* write_file_atomic - data into path with exactly mode. Written to a
 * temporary file beside path first; then rename() replaces path
 * (overwrite) or link() puts it in place only if path does not exist yet,
 * atomically in both cases. */
static int write_file_atomic(const char *path, const unsigned char *data, size_t len,
                             mode_t mode, bool overwrite, const char *what,
                             char *err, size_t errlen)
{
    char *tmp;
    size_t plen;
    int fd, saved;

    if (path == NULL || *path == '\0') {
        dance_set_err(err, errlen, "cannot write %s: no file name given", what);
        return -1;
    }
    plen = strlen(path);
    tmp = malloc(plen + sizeof(".XXXXXX"));
    if (tmp == NULL) {
        dance_set_err(err, errlen, "cannot write %s to %s: out of memory", what, path);
        return -1;
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".XXXXXX", sizeof(".XXXXXX"));
    fd = mkstemp(tmp);      /* created 0600: never readable by others */
    if (fd < 0) {
        dance_set_err(err, errlen, "cannot write %s to %s: %s", what, path, strerror(errno));
        free(tmp);
        return -1;
    }
    if (write_all(fd, data, len) != 0 || fchmod(fd, mode) != 0 || fsync(fd) != 0) {
        saved = errno;
        close(fd);
        goto fail;
    }
    if (close(fd) != 0) {
        saved = errno;
        goto fail;
    }
    if (overwrite) {
        if (rename(tmp, path) != 0) {
            saved = errno;
            goto fail;
        }
    } else {
        if (link(tmp, path) != 0) {
            saved = errno;
            if (saved == EEXIST) {
                unlink(tmp);
                free(tmp);
                dance_set_err(err, errlen, "cannot write %s to %s: the file exists "
                              "(refusing to overwrite it)", what, path);
                return -1;
            }
            goto fail;
        }
        unlink(tmp);
    }
    free(tmp);
    return 0;

fail:
    unlink(tmp);
    free(tmp);
    dance_set_err(err, errlen, "cannot write %s to %s: %s", what, path, strerror(saved));
    return -1;
}

/* dance_key_write - unencrypted PKCS#8 PEM, mode 0600 */
int dance_key_write(const char *path, EVP_PKEY *key, bool overwrite,
                    char *err, size_t errlen)
{
    BIO *bio;
    char *data = NULL;
    long len;
    int rc;
    char why[160];

    ERR_clear_error();
    /* secmem: the PEM text is wiped when the BIO is freed */
    bio = BIO_new(BIO_s_secmem());
    if (bio == NULL || !PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)
        || (len = BIO_get_mem_data(bio, &data)) <= 0) {
        dance_set_err(err, errlen, "cannot encode private key for %s: %s",
                      path ? path : "(null)", ossl_reason(why, sizeof(why)));
        BIO_free(bio);
        return -1;
    }
    rc = write_file_atomic(path, (const unsigned char *)data, (size_t)len, 0600,
                           overwrite, "private key", err, errlen);
    BIO_free(bio);
    return rc;
}

/* dance_cert_write - PEM certificate, mode 0644 */
int dance_cert_write(const char *path, X509 *cert, bool overwrite,
                     char *err, size_t errlen)
{
    BIO *bio;
    char *data = NULL;
    long len;
    int rc;
    char why[160];

    ERR_clear_error();
    bio = BIO_new(BIO_s_mem());
    if (bio == NULL || !PEM_write_bio_X509(bio, cert)
        || (len = BIO_get_mem_data(bio, &data)) <= 0) {
        dance_set_err(err, errlen, "cannot encode certificate for %s: %s",
                      path ? path : "(null)", ossl_reason(why, sizeof(why)));
        BIO_free(bio);
        return -1;
    }
    rc = write_file_atomic(path, (const unsigned char *)data, (size_t)len, 0644,
                           overwrite, "certificate", err, errlen);
    BIO_free(bio);
    return rc;
}

/* certs_from_buf - every certificate of len bytes of PEM text at buf,
 * read from `where`, at least one */
static STACK_OF(X509) *certs_from_buf(const unsigned char *buf, size_t len,
                                      const char *where, char *err, size_t errlen)
{
    BIO *bio = NULL;
    STACK_OF(X509) *certs;
    X509 *x;
    char why[160];

    ERR_clear_error();
    certs = sk_X509_new_null();
    if (len > INT_MAX || certs == NULL || (bio = BIO_new_mem_buf(buf, (int)len)) == NULL) {
        dance_set_err(err, errlen, "cannot read certificate from %s: %s", where,
                      len > INT_MAX ? "too large" : "out of memory");
        goto fail;
    }
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (!sk_X509_push(certs, x)) {
            X509_free(x);
            dance_set_err(err, errlen, "cannot read certificate from %s: out of memory",
                          where);
            goto fail;
        }
    }
    /* The loop ends at the first block it cannot use: normally "no start
     * line" at the end of the file; anything else is a damaged block. */
    if (!pem_no_block()) {
        dance_set_err(err, errlen, "cannot read certificate from %s (PEM block %d): %s",
                      where, sk_X509_num(certs) + 1, ossl_reason(why, sizeof(why)));
        goto fail;
    }
    ERR_clear_error();
    if (sk_X509_num(certs) == 0) {
        dance_set_err(err, errlen, "cannot read certificate from %s: no PEM CERTIFICATE "
                      "block found", where);
        goto fail;
    }
    BIO_free(bio);
    return certs;

fail:
    sk_X509_pop_free(certs, X509_free);
    BIO_free(bio);
    return NULL;
}

/* dance_certs_load - all certificates of a PEM file, at least one */
STACK_OF(X509) *dance_certs_load(const char *path, char *err, size_t errlen)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    STACK_OF(X509) *certs;

    if (read_file(path, "certificate", &buf, &len, err, errlen) != 0)
        return NULL;
    certs = certs_from_buf(buf, len, path, err, errlen);
    free(buf);
    return certs;
}

/* dance_certs_from_pem - dance_certs_load from memory */
STACK_OF(X509) *dance_certs_from_pem(const void *pem, size_t len, char *err, size_t errlen)
{
    unsigned char *buf = pem_copy(pem, len, "certificate", err, errlen);
    STACK_OF(X509) *certs;

    if (buf == NULL)
        return NULL;
    certs = certs_from_buf(buf, len, "the PEM text", err, errlen);
    free(buf);
    return certs;
}

/* dance_public_key_from_pem - the key of a PUBLIC KEY block, else of the
 * first certificate, else the public half of a private key */
EVP_PKEY *dance_public_key_from_pem(const void *pem, size_t len, char *err, size_t errlen)
{
    unsigned char *buf = pem_copy(pem, len, "public key", err, errlen);
    EVP_PKEY *key = NULL;
    STACK_OF(X509) *certs;
    const char *text;
    BIO *bio;

    if (buf == NULL)
        return NULL;
    text = (const char *)buf;
    ERR_clear_error();
    if (strstr(text, "-----BEGIN PUBLIC KEY-----") != NULL) {
        /* PEM_read_bio_PUBKEY goes through OpenSSL 3's decoder search,
         * four times slower than reading the block and decoding its DER */
        if ((bio = BIO_new_mem_buf(buf, (int)len)) != NULL) {
            char *pem_name = NULL, *pem_header = NULL;
            unsigned char *der = NULL;
            long der_len = 0;
            while (PEM_read_bio(bio, &pem_name, &pem_header, &der, &der_len) == 1) {
                if (strcmp(pem_name, "PUBLIC KEY") == 0) {
                    const unsigned char *p = der;
                    key = d2i_PUBKEY(NULL, &p, der_len);
                    if (key != NULL && p != der + der_len) {
                        EVP_PKEY_free(key);     /* trailing bytes: damaged */
                        key = NULL;
                    }
                }
                OPENSSL_free(pem_name);
                OPENSSL_free(pem_header);
                OPENSSL_free(der);
                pem_name = pem_header = NULL;
                der = NULL;
                if (key != NULL)
                    break;
            }
            BIO_free(bio);
        }
        ERR_clear_error();
        if (key == NULL)
            dance_set_err(err, errlen, "cannot read public key from the PEM text: the "
                          "PUBLIC KEY block is damaged or of an unsupported type");
    } else if (strstr(text, "-----BEGIN CERTIFICATE-----") != NULL) {
        if ((certs = certs_from_buf(buf, len, "the PEM text", err, errlen)) != NULL) {
            key = X509_get_pubkey(sk_X509_value(certs, 0));
            sk_X509_pop_free(certs, X509_free);
            ERR_clear_error();
            if (key == NULL)
                dance_set_err(err, errlen, "the certificate in the PEM text has an "
                              "unusable key");
        }
    } else if (strstr(text, "PRIVATE KEY-----") != NULL) {
        key = key_from_buf(buf, len, "the PEM text", err, errlen);
    } else {
        dance_set_err(err, errlen, "cannot read public key from the PEM text: no PUBLIC "
                      "KEY, CERTIFICATE or PRIVATE KEY block found");
    }
    OPENSSL_cleanse(buf, len);
    free(buf);
    return key;
}

/* dance_cert_load - the first certificate of a PEM file */
X509 *dance_cert_load(const char *path, char *err, size_t errlen)
{
    STACK_OF(X509) *certs = dance_certs_load(path, err, errlen);
    X509 *first;

    if (certs == NULL)
        return NULL;
    first = sk_X509_shift(certs);
    sk_X509_pop_free(certs, X509_free);
    return first;
}

int dance_cert_file_identity(const char *path, char *out, size_t outlen,
                             char *err, size_t errlen)
{
    X509 *cert = dance_cert_load(path, err, errlen);
    char **names = NULL;
    int n, rc = -1;

    if (cert == NULL)
        return -1;
    n = dance_cert_dnsnames(cert, &names);
    if (n == 1 && strlen(names[0]) < outlen) {
        memcpy(out, names[0], strlen(names[0]) + 1);
        rc = 0;
    } else if (n < 0) {
        dance_set_err(err, errlen, "out of memory reading the names of %s", path);
    } else {
        dance_set_err(err, errlen, "%s has %d usable dNSName subjectAltNames, not one",
                      path, n);
    }
    dance_names_free(names);
    X509_free(cert);
    return rc;
}

/* dance_key_matches_cert - private key belongs to the certificate */
bool dance_key_matches_cert(EVP_PKEY *key, X509 *cert)
{
    bool ok;

    if (key == NULL || cert == NULL)
        return false;
    ok = X509_check_private_key(cert, key) == 1;
    ERR_clear_error();
    return ok;
}

bool dance_key_is_eddsa(EVP_PKEY *key)
{
    return key != NULL && (EVP_PKEY_is_a(key, "ED25519") || EVP_PKEY_is_a(key, "ED448"));
}

/* dance_sign_digest - digest strength to match the key's strength */
const EVP_MD *dance_sign_digest(EVP_PKEY *key)
{
    int bits;

    if (key == NULL || dance_key_is_eddsa(key))
        return NULL;
    bits = EVP_PKEY_get_security_bits(key);
    if (bits <= 0)
        return NULL;
    if (bits <= 128)
        return EVP_sha256();
    if (bits <= 192)
        return EVP_sha384();
    return EVP_sha512();
}

/* random_serial - positive, non-zero, 128 random bits (RFC 5280 4.1.2.2
 * allows up to 20 octets; CA/B asks for at least 64 random bits) */
static int random_serial(X509 *x)
{
    BIGNUM *bn = BN_new();
    int ok = 0;

    if (bn == NULL)
        return 0;
    do {
        if (!BN_rand(bn, 128, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY))
            goto done;
    } while (BN_is_zero(bn));
    ok = BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
done:
    BN_free(bn);
    return ok;
}

/* add_ext - one extension from its openssl.cnf-style value */
static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    int ok;

    if (ext == NULL)
        return 0;
    ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

/* valid_ca_cn - 1..64 printable ASCII characters */
static bool valid_ca_cn(const char *s)
{
    size_t n = 0;

    for (; s[n] != '\0'; n++)
        if ((unsigned char)s[n] < 0x20 || (unsigned char)s[n] > 0x7e)
            return false;
    return n > 0 && n <= PROVISION_CN_MAX;
}

/* dance_cert_issue - make and sign a leaf or CA certificate */
X509 *dance_cert_issue(const dance_cert_request *req, char *err, size_t errlen)
{
    char name[DANCE_NAME_MAX + 1];
    char nerr[DANCE_REASON_MAX];
    char why[160];
    char san[DANCE_NAME_MAX + 16];
    char ku[64];
    X509 *x = NULL;
    X509_NAME *subj = NULL;
    X509V3_CTX ctx;
    EVP_PKEY *signer;
    bool self_signed, long_name = false;
    int days;
    const char *step;

    if (req == NULL || req->key == NULL || req->name == NULL) {
        dance_set_err(err, errlen, "cannot issue a certificate: no key or name given");
        return NULL;
    }
    if ((req->issuer_cert == NULL) != (req->issuer_key == NULL)) {
        dance_set_err(err, errlen, "cannot issue a certificate: an issuer needs both its "
                      "certificate and its private key");
        return NULL;
    }
    days = req->days == 0 ? DANCE_CERT_DAYS_DEFAULT : req->days;
    if (days < 1 || days > DANCE_CERT_DAYS_MAX) {
        dance_set_err(err, errlen, "cannot issue a certificate: validity of %d days is "
                      "outside 1..%d", req->days, DANCE_CERT_DAYS_MAX);
        return NULL;
    }
    if (req->is_ca) {
        if (!valid_ca_cn(req->name)) {
            dance_set_err(err, errlen, "cannot issue a CA certificate: its name must be 1 to %d "
                          "printable ASCII characters", PROVISION_CN_MAX);
            return NULL;
        }
        snprintf(name, sizeof(name), "%s", req->name);
    } else {
        if (dance_name_normalize(req->name, name, sizeof(name), nerr, sizeof(nerr)) != 0) {
            dance_set_err(err, errlen, "cannot issue a certificate for \"%s\": %s",
                          req->name, nerr);
            return NULL;
        }
        long_name = strlen(name) > PROVISION_CN_MAX;
    }
    self_signed = req->issuer_cert == NULL;
    if (!self_signed) {
        uint32_t flags = X509_get_extension_flags(req->issuer_cert);
        if (!(flags & EXFLAG_CA)
            || !(X509_get_key_usage(req->issuer_cert) & KU_KEY_CERT_SIGN)) {
            ERR_clear_error();
            dance_set_err(err, errlen, "cannot issue a certificate: the issuer certificate is "
                          "not a CA (it needs basicConstraints CA:TRUE and keyUsage keyCertSign)");
            return NULL;
        }
        if (!dance_key_matches_cert(req->issuer_key, req->issuer_cert)) {
            dance_set_err(err, errlen, "cannot issue a certificate: the issuer's private key "
                          "does not match the issuer certificate");
            return NULL;
        }
    }
    signer = self_signed ? req->key : req->issuer_key;

    ERR_clear_error();
    step = "allocate";
    x = X509_new();
    subj = X509_NAME_new();
    if (x == NULL || subj == NULL)
        goto fail;
    step = "set the version, serial or validity";
    if (!X509_set_version(x, X509_VERSION_3) || !random_serial(x)
        || X509_gmtime_adj(X509_getm_notBefore(x), -60) == NULL
        || X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL) == NULL)
        goto fail;
    step = "set the subject or public key";
    if (!long_name && !X509_NAME_add_entry_by_NID(subj, NID_commonName, MBSTRING_ASC,
                                                  (const unsigned char *)name, -1, -1, 0))
        goto fail;
    if (!X509_set_subject_name(x, subj)
        || !X509_set_issuer_name(x, self_signed ? subj
                                                : X509_get_subject_name(req->issuer_cert))
        || !X509_set_pubkey(x, req->key))
        goto fail;

    /* For a self-signed certificate the certificate is its own issuer: the
     * authority key identifier then repeats the subject key identifier,
     * which is why that one is added first. */
    X509V3_set_ctx(&ctx, self_signed ? x : req->issuer_cert, x, NULL, NULL, 0);
    X509V3_set_ctx_nodb(&ctx);
    step = "add the extensions";
    if (req->is_ca) {
        if (!add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE")
            || !add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign"))
            goto fail;
    } else {
        snprintf(ku, sizeof(ku), "critical,digitalSignature%s",
                 EVP_PKEY_is_a(req->key, "RSA") ? ",keyEncipherment" : "");
        /* The name passed dance_name_normalize: letters, digits, '-', '_'
         * and dots only, so it cannot inject into the config syntax. */
        snprintf(san, sizeof(san), "%sDNS:%s", long_name ? "critical," : "", name);
        if (!add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE")
            || !add_ext(x, &ctx, NID_key_usage, ku)
            || !add_ext(x, &ctx, NID_ext_key_usage, "clientAuth")
            || !add_ext(x, &ctx, NID_subject_alt_name, san))
            goto fail;
    }
    /* Issued: "keyid,issuer" is the issuer's key identifier, or its name
     * and serial when an (older) issuer certificate has no
     * subjectKeyIdentifier. Self-signed: "always" because OpenSSL 3.0 only
     * takes the keyid of a not yet signed self-issued certificate then. */
    if (!add_ext(x, &ctx, NID_subject_key_identifier, "hash")
        || !add_ext(x, &ctx, NID_authority_key_identifier,
                    self_signed ? "keyid:always" : "keyid,issuer"))
        goto fail;

    step = "sign";
    if (X509_sign(x, signer, dance_sign_digest(signer)) <= 0)
        goto fail;
    X509_NAME_free(subj);
    ERR_clear_error();
    return x;

fail:
    dance_set_err(err, errlen, "cannot issue a certificate for %s: cannot %s: %s",
                  name, step, ossl_reason(why, sizeof(why)));
    X509_NAME_free(subj);
    X509_free(x);
    return NULL;
}

/* dance_tlsa_from_cert - TLSA association data for one (u, s, m) */
int dance_tlsa_from_cert(X509 *cert, uint8_t usage, uint8_t selector,
                         uint8_t mtype, dance_tlsa_rrset *set,
                         char *err, size_t errlen)
{
    unsigned char *der = NULL;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    const unsigned char *data;
    size_t len;
    int n, rc = -1;
    char why[160];

    if (cert == NULL || set == NULL) {
        dance_set_err(err, errlen, "cannot compute TLSA data: no certificate");
        return -1;
    }
    if (usage > 3 || selector > 1 || mtype > 2) {
        dance_set_err(err, errlen, "cannot compute TLSA data for %u %u %u: usage must be 0..3, "
                      "selector 0..1 and matching type 0..2", usage, selector, mtype);
        return -1;
    }
    ERR_clear_error();
    n = selector == 0 ? i2d_X509(cert, &der)
                      : i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &der);
    if (n <= 0) {
        dance_set_err(err, errlen, "cannot encode the %s: %s",
                      selector == 0 ? "certificate" : "public key", ossl_reason(why, sizeof(why)));
        return -1;
    }
    data = der;
    len = (size_t)n;
    if (mtype != 0) {
        if (!EVP_Digest(der, (size_t)n, md, &mdlen,
                        mtype == 1 ? EVP_sha256() : EVP_sha512(), NULL)) {
            dance_set_err(err, errlen, "cannot compute %s: %s", dance_tlsa_mtype_name(mtype),
                          ossl_reason(why, sizeof(why)));
            goto done;
        }
        data = md;
        len = mdlen;
    }
    if (dance_tlsa_rrset_add(set, usage, selector, mtype, data, len) != 0) {
        dance_set_err(err, errlen, len > DANCE_TLSA_DATA_MAX
                   ? "cannot add TLSA record: data longer than %d bytes"
                   : "cannot add TLSA record: out of memory (limit %d bytes)",
                      DANCE_TLSA_DATA_MAX);
        goto done;
    }
    rc = 0;
done:
    OPENSSL_free(der);
    return rc;
}
