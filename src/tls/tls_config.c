/*
 * TLS configurations from PEM bytes: certificate chains and private keys
 * for servers, trust anchors for clients, ALPN names. Everything parsed
 * here may come from an attacker's hands (a KV store, a fuzzer), so every
 * object is bounded (HZ_TLS_PEM_OBJECT_MAX), every failure is named in the
 * configuration's message, and nothing aborts. BearSSL does the decoding
 * (br_pem_decoder, br_x509_decoder, br_skey_decoder); this file copies out
 * what must outlive the decoders and wipes private keys when freed.
 */
#include <string.h>

#include "haze/mem.h"
#include "tls/tls_int.h"

/* --- helpers ----------------------------------------------------------- */

static void *memdup(const void *src, size_t len)
{
	void *p = hz_malloc(len > 0 ? len : 1);

	if (p != NULL && len > 0)
		memcpy(p, src, len);
	return p;
}

/* --- PEM --------------------------------------------------------------- */

/* The DER bytes of the PEM object being decoded. */
struct pem_acc {
	unsigned char *buf;
	size_t len, cap;
	bool overflow, nomem;
};

static void pem_append(void *ctx, const void *src, size_t len)
{
	struct pem_acc *a = ctx;
	unsigned char *nb;
	size_t want;

	if (a->overflow || a->nomem)
		return;
	if (len > HZ_TLS_PEM_OBJECT_MAX - a->len) {
		a->overflow = true;
		return;
	}
	if (a->len + len > a->cap) {
		want = a->cap == 0 ? 2048 : a->cap * 2;
		while (want < a->len + len)
			want *= 2;
		if (want > HZ_TLS_PEM_OBJECT_MAX)
			want = HZ_TLS_PEM_OBJECT_MAX;
		nb = hz_realloc(a->buf, want);
		if (nb == NULL) {
			a->nomem = true;
			return;
		}
		a->buf = nb;
		a->cap = want;
	}
	memcpy(a->buf + a->len, src, len);
	a->len += len;
}

/* Called with each PEM object's name ("CERTIFICATE") and DER bytes. */
typedef int (*pem_object_fn)(struct hz_tls_config *cfg, void *arg,
			     const char *name, const unsigned char *der,
			     size_t len);

/*
 * Decodes every object of @pem, calling @fn on each. @what names the
 * input in messages ("certificate chain"). 0 or the first failure.
 */
static int pem_each(struct hz_tls_config *cfg, const void *pem, size_t len,
		    const char *what, pem_object_fn fn, void *arg)
{
	br_pem_decoder_context pc;
	struct pem_acc acc = {0};
	const unsigned char *p = pem;
	char name[128];
	bool inside = false, tail_pushed = false;
	int r = 0;

	if (pem == NULL && len > 0)
		return hz_errmsg_set(&cfg->err, -HZ_EINVAL, "TLS: %s: no data",
				     what);
	br_pem_decoder_init(&pc);
	for (;;) {
		size_t n;
		int ev;

		if (len > 0) {
			n = br_pem_decoder_push(&pc, p, len);
			p += n;
			len -= n;
		} else if (!tail_pushed) {
			/* The decoder needs a newline after the last line. */
			n = br_pem_decoder_push(&pc, "\n", 1);
			tail_pushed = true;
		} else {
			break;
		}
		ev = br_pem_decoder_event(&pc);
		if (ev == BR_PEM_BEGIN_OBJ) {
			snprintf(name, sizeof(name), "%s",
				 br_pem_decoder_name(&pc));
			acc.len = 0;
			acc.overflow = acc.nomem = false;
			br_pem_decoder_setdest(&pc, pem_append, &acc);
			inside = true;
		} else if (ev == BR_PEM_END_OBJ && inside) {
			inside = false;
			if (acc.nomem) {
				r = hz_errmsg_set(&cfg->err, -HZ_ENOMEM,
						  "TLS: %s: no memory for a "
						  "PEM object",
						  what);
				break;
			}
			if (acc.overflow) {
				r = hz_errmsg_set(&cfg->err, -HZ_EINVAL,
						  "TLS: %s: PEM object '%s' "
						  "larger than %u bytes",
						  what, name,
						  HZ_TLS_PEM_OBJECT_MAX);
				break;
			}
			r = fn(cfg, arg, name, acc.buf, acc.len);
			if (r < 0)
				break;
		} else if (ev == BR_PEM_ERROR) {
			r = hz_errmsg_set(&cfg->err, -HZ_EINVAL,
					  "TLS: %s: malformed PEM", what);
			break;
		} else if (ev == 0 && n == 0 && len > 0) {
			r = hz_errmsg_set(&cfg->err, -HZ_EINVAL,
					  "TLS: %s: PEM decoder stuck", what);
			break;
		}
	}
	if (r == 0 && inside)
		r = hz_errmsg_set(&cfg->err, -HZ_EINVAL,
				  "TLS: %s: PEM object '%s' has no END line",
				  what, name);
	if (acc.buf != NULL)
		tls_wipe(acc.buf, acc.cap);
	hz_free(acc.buf);
	return r;
}

/* --- certificates -------------------------------------------------------- */

static void dn_append(void *ctx, const void *src, size_t len)
{
	pem_append(ctx, src, len);
}

/* The largest RSA modulus BearSSL's engines take: 4096 bits. */
#define TLS_RSA_MAX 512

/* What the leaf certificate tells before its chain is used. */
struct leaf_info {
	int key_type;
	uint32_t days, seconds; /* start of validity */
	int curve;		/* EC: its curve */
	/* Its public key: an EC point, or an RSA modulus (no leading 0). */
	size_t pub_len;
	unsigned char pub[TLS_RSA_MAX];
};

/* @len bytes of @p without their leading zero bytes; *len updated. */
static const unsigned char *unpadded(const unsigned char *p, size_t *len)
{
	while (*len > 0 && *p == 0) {
		p++;
		(*len)--;
	}
	return p;
}

/* Decodes certificate @der into *li. 0 or failure. */
static int leaf_decode(struct hz_tls_config *cfg, const unsigned char *der,
		       size_t len, const char *what, struct leaf_info *li)
{
	br_x509_decoder_context dc;
	const br_x509_pkey *pk;
	int err;

	br_x509_decoder_init(&dc, NULL, NULL);
	br_x509_decoder_push(&dc, der, len);
	pk = br_x509_decoder_get_pkey(&dc);
	err = br_x509_decoder_last_error(&dc);
	if (pk == NULL || err != 0)
		return hz_errmsg_set(&cfg->err, -HZ_EINVAL,
				     "TLS: %s: malformed certificate (%s)",
				     what, tls_br_error_text(err));
	li->key_type = pk->key_type;
	if (pk->key_type == BR_KEYTYPE_RSA) {
		size_t n = pk->key.rsa.nlen;
		const unsigned char *m = unpadded(pk->key.rsa.n, &n);

		if (n > sizeof(li->pub))
			return hz_errmsg_set(&cfg->err, -HZ_EINVAL,
					     "TLS: %s: an RSA key of more "
					     "than 4096 bits",
					     what);
		memcpy(li->pub, m, n);
		li->pub_len = n;
	} else {
		if (pk->key.ec.qlen > sizeof(li->pub))
			return hz_errmsg_set(&cfg->err, -HZ_EINVAL,
					     "TLS: %s: malformed certificate "
					     "(EC point of %zu bytes)",
					     what, pk->key.ec.qlen);
		li->curve = pk->key.ec.curve;
		memcpy(li->pub, pk->key.ec.q, pk->key.ec.qlen);
		li->pub_len = pk->key.ec.qlen;
	}
	/* BearSSL has no accessor for the dates; the fields are public. */
	li->days = dc.notbefore_days;
	li->seconds = dc.notbefore_seconds;
	return 0;
}

/*
 * Collects the DNS names of the leaf @der (subject alternative names,
 * else the common name) into @c->names, for choosing a chain by SNI.
 */
static int leaf_names(struct tls_chain *c, const unsigned char *der, size_t len,
		      const struct leaf_info *li)
{
	static const unsigned char oid_cn[] = {3, 0x55, 0x04, 0x03};
	static const unsigned char oid_dns[] = {0, 2};
	br_name_element el[TLS_LEAF_NAMES_MAX + 1];
	br_x509_minimal_context *xc = hz_malloc(sizeof(*xc));
	char cn[HZ_TLS_NAME_MAX + 1];
	const br_x509_class **vt;

	if (xc == NULL)
		return -HZ_ENOMEM;
	/* DNS names straight into place; the CN aside, used only alone. */
	for (size_t i = 0; i < TLS_LEAF_NAMES_MAX; i++)
		el[i] = (br_name_element){oid_dns, c->names[i],
					  HZ_TLS_NAME_MAX + 1, 0};
	el[TLS_LEAF_NAMES_MAX] = (br_name_element){oid_cn, cn, sizeof(cn), 0};
	br_x509_minimal_init_full(xc, NULL, 0);
	br_x509_minimal_set_ecdsa(xc, &tls_ec, tls_ecdsa_vrfy);
	br_x509_minimal_set_name_elements(xc, el, TLS_LEAF_NAMES_MAX + 1);
	/* A time inside the validity, or decoding stops before the names. */
	br_x509_minimal_set_time(xc, li->days, li->seconds);
	vt = &xc->vtable;
	(*vt)->start_chain(vt, NULL);
	(*vt)->start_cert(vt, (uint32_t)len);
	(*vt)->append(vt, der, len);
	(*vt)->end_cert(vt);
	(void)(*vt)->end_chain(vt); /* untrusted, of course: no anchors */
	hz_free(xc);
	c->nnames = 0;
	for (size_t i = 0; i < TLS_LEAF_NAMES_MAX; i++)
		if (el[i].status == 1)
			memmove(c->names[c->nnames++], c->names[i],
				HZ_TLS_NAME_MAX + 1);
	if (c->nnames == 0 && el[TLS_LEAF_NAMES_MAX].status == 1)
		memcpy(c->names[c->nnames++], cn, sizeof(cn));
	return 0;
}

static int chain_cert(struct hz_tls_config *cfg, void *arg, const char *name,
		      const unsigned char *der, size_t len)
{
	struct tls_chain *c = arg;
	unsigned char *copy;

	if (strcmp(name, "CERTIFICATE") != 0 &&
	    strcmp(name, "X509 CERTIFICATE") != 0)
		return 0; /* other objects in a chain file are not ours */
	if (c->ncerts == TLS_CHAIN_CERTS_MAX)
		return hz_errmsg_set(&cfg->err, -HZ_EINVAL,
				     "TLS: certificate chain: more than %d "
				     "certificates",
				     TLS_CHAIN_CERTS_MAX);
	copy = memdup(der, len);
	if (copy == NULL)
		return hz_errmsg_set(&cfg->err, -HZ_ENOMEM,
				     "TLS: certificate chain: no memory");
	c->certs[c->ncerts].data = copy;
	c->certs[c->ncerts].data_len = len;
	c->ncerts++;
	return 0;
}

/* --- private keys -------------------------------------------------------- */

struct key_parse {
	struct tls_chain *c;
	bool found;
};

/* Copies the key decoded by @dc into @c, in one wiped allocation. */
static int key_copy(struct hz_tls_config *cfg, struct tls_chain *c,
		    const br_skey_decoder_context *dc)
{
	unsigned char *m;
	size_t total;

	if (br_skey_decoder_key_type(dc) == BR_KEYTYPE_RSA) {
		const br_rsa_private_key *k = br_skey_decoder_get_rsa(dc);

		total = k->plen + k->qlen + k->dplen + k->dqlen + k->iqlen;
		m = hz_malloc(total);
		if (m == NULL)
			return hz_errmsg_set(&cfg->err, -HZ_ENOMEM,
					     "TLS: private key: no memory");
		c->key.rsa = *k;
		c->key.rsa.p = m;
		memcpy(m, k->p, k->plen);
		c->key.rsa.q = c->key.rsa.p + k->plen;
		memcpy(c->key.rsa.q, k->q, k->qlen);
		c->key.rsa.dp = c->key.rsa.q + k->qlen;
		memcpy(c->key.rsa.dp, k->dp, k->dplen);
		c->key.rsa.dq = c->key.rsa.dp + k->dplen;
		memcpy(c->key.rsa.dq, k->dq, k->dqlen);
		c->key.rsa.iq = c->key.rsa.dq + k->dqlen;
		memcpy(c->key.rsa.iq, k->iq, k->iqlen);
		c->key_type = BR_KEYTYPE_RSA;
	} else {
		const br_ec_private_key *k = br_skey_decoder_get_ec(dc);

		total = k->xlen;
		m = memdup(k->x, k->xlen);
		if (m == NULL)
			return hz_errmsg_set(&cfg->err, -HZ_ENOMEM,
					     "TLS: private key: no memory");
		c->key.ec = *k;
		c->key.ec.x = m;
		c->key_type = BR_KEYTYPE_EC;
	}
	c->key_mem = m;
	c->key_mem_len = total;
	return 0;
}

static int key_object(struct hz_tls_config *cfg, void *arg, const char *name,
		      const unsigned char *der, size_t len)
{
	struct key_parse *kp = arg;
	br_skey_decoder_context *dc;
	int err, r;

	if (strcmp(name, "PRIVATE KEY") != 0 &&
	    strcmp(name, "RSA PRIVATE KEY") != 0 &&
	    strcmp(name, "EC PRIVATE KEY") != 0)
		return 0; /* "EC PARAMETERS" and the like */
	if (kp->found)
		return hz_errmsg_set(&cfg->err, -HZ_EINVAL,
				     "TLS: private key: more than one key");
	dc = hz_malloc(sizeof(*dc));
	if (dc == NULL)
		return hz_errmsg_set(&cfg->err, -HZ_ENOMEM,
				     "TLS: private key: no memory");
	br_skey_decoder_init(dc);
	br_skey_decoder_push(dc, der, len);
	err = br_skey_decoder_last_error(dc);
	if (err != 0 || br_skey_decoder_key_type(dc) == 0)
		r = hz_errmsg_set(
		    &cfg->err, -HZ_EINVAL,
		    "TLS: private key: malformed or unsupported "
		    "%s (%s)",
		    name, err == 0 ? "truncated" : tls_br_error_text(err));
	else
		r = key_copy(cfg, kp->c, dc);
	tls_wipe(dc, sizeof(*dc));
	hz_free(dc);
	if (r == 0)
		kp->found = true;
	return r;
}

static void chain_free(struct tls_chain *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->ncerts; i++)
		hz_free(c->certs[i].data);
	if (c->key_mem != NULL)
		tls_wipe(c->key_mem, c->key_mem_len);
	hz_free(c->key_mem);
	tls_wipe(&c->key, sizeof(c->key));
	hz_free(c);
}

static const char *key_type_name(int t)
{
	return t == BR_KEYTYPE_RSA ? "RSA" : t == BR_KEYTYPE_EC ? "EC" : "?";
}

static const char *curve_name(int curve)
{
	switch (curve) {
	case BR_EC_secp256r1:
		return "P-256";
	case BR_EC_secp384r1:
		return "P-384";
	case BR_EC_secp521r1:
		return "P-521";
	default:
		return "another curve";
	}
}

/*
 * Whether @c's private key is the one whose public key the leaf
 * certificate @li carries: its public point computed again (EC), or its
 * modulus (RSA, p times q). 0, or -HZ_EINVAL naming the difference: a
 * server given another key would fail every handshake.
 */
static int key_matches(struct hz_tls_config *cfg, const struct tls_chain *c,
		       const struct leaf_info *li)
{
	unsigned char buf[TLS_RSA_MAX + BR_EC_KBUF_PUB_MAX_SIZE];
	const unsigned char *p = buf;
	size_t n;

	if (c->key_type == BR_KEYTYPE_EC) {
		if (c->key.ec.curve != li->curve)
			return hz_errmsg_set(
			    &cfg->err, -HZ_EINVAL,
			    "TLS: the certificate's key is on %s but the "
			    "private key on %s",
			    curve_name(li->curve), curve_name(c->key.ec.curve));
		n = br_ec_compute_pub(&tls_ec, NULL, buf, &c->key.ec);
		if (n == 0)
			return hz_errmsg_set(&cfg->err, -HZ_EINVAL,
					     "TLS: private key: not a valid "
					     "key of %s",
					     curve_name(c->key.ec.curve));
	} else {
		n = br_rsa_compute_modulus_get_default()(NULL, &c->key.rsa);
		if (n == 0 || n > TLS_RSA_MAX)
			return hz_errmsg_set(&cfg->err, -HZ_EINVAL,
					     "TLS: private key: not a valid "
					     "RSA key of at most 4096 bits");
		n = br_rsa_compute_modulus_get_default()(buf, &c->key.rsa);
		p = unpadded(buf, &n);
	}
	if (n != li->pub_len || memcmp(p, li->pub, n) != 0)
		return hz_errmsg_set(&cfg->err, -HZ_EINVAL,
				     "TLS: the private key does not match the "
				     "certificate (its public key is "
				     "another)");
	return 0;
}

int hz_tls_config_add_chain(struct hz_tls_config *cfg, const void *chain_pem,
			    size_t chain_len, const void *key_pem,
			    size_t key_len)
{
	struct key_parse kp = {0};
	struct tls_chain *c;
	struct leaf_info li;
	int r;

	if (cfg->role != HZ_TLS_SERVER)
		return hz_errmsg_set(&cfg->err, -HZ_EINVAL,
				     "TLS: a client configuration takes no "
				     "certificate chain");
	if (cfg->nchains == HZ_TLS_CHAINS_MAX)
		return hz_errmsg_set(&cfg->err, -HZ_ENOSPC,
				     "TLS: more than %d certificate chains",
				     HZ_TLS_CHAINS_MAX);
	c = hz_calloc(1, sizeof(*c));
	if (c == NULL)
		return hz_errmsg_set(&cfg->err, -HZ_ENOMEM,
				     "TLS: no memory for a certificate chain");
	r = pem_each(cfg, chain_pem, chain_len, "certificate chain", chain_cert,
		     c);
	if (r == 0 && c->ncerts == 0)
		r = hz_errmsg_set(&cfg->err, -HZ_EINVAL,
				  "TLS: certificate chain: no CERTIFICATE in "
				  "the PEM");
	if (r == 0)
		r = leaf_decode(cfg, c->certs[0].data, c->certs[0].data_len,
				"certificate chain", &li);
	kp.c = c;
	if (r == 0)
		r = pem_each(cfg, key_pem, key_len, "private key", key_object,
			     &kp);
	if (r == 0 && !kp.found)
		r = hz_errmsg_set(&cfg->err, -HZ_EINVAL,
				  "TLS: private key: no PRIVATE KEY, RSA "
				  "PRIVATE KEY or EC PRIVATE KEY in the PEM");
	if (r == 0 && li.key_type != c->key_type)
		r = hz_errmsg_set(&cfg->err, -HZ_EINVAL,
				  "TLS: the certificate's key is %s but the "
				  "private key is %s",
				  key_type_name(li.key_type),
				  key_type_name(c->key_type));
	if (r == 0)
		r = key_matches(cfg, c, &li);
	if (r == 0 &&
	    leaf_names(c, c->certs[0].data, c->certs[0].data_len, &li) < 0)
		r = hz_errmsg_set(&cfg->err, -HZ_ENOMEM,
				  "TLS: no memory to read certificate names");
	if (r < 0) {
		chain_free(c);
		return r;
	}
	cfg->chains[cfg->nchains++] = c;
	return 0;
}

/* --- trust anchors ------------------------------------------------------- */

/* Adds certificate @der as a trust anchor of @cfg. */
static int anchor_object(struct hz_tls_config *cfg, void *arg, const char *name,
			 const unsigned char *der, size_t len)
{
	br_x509_decoder_context *dc;
	struct pem_acc dn = {0};
	const br_x509_pkey *pk;
	br_x509_trust_anchor *ta, *grown;
	unsigned char *m, *q;
	size_t klen = 0;
	int err, r = 0;

	(void)arg;
	if (strcmp(name, "CERTIFICATE") != 0 &&
	    strcmp(name, "X509 CERTIFICATE") != 0)
		return 0;
	dc = hz_malloc(sizeof(*dc));
	if (dc == NULL)
		return hz_errmsg_set(&cfg->err, -HZ_ENOMEM,
				     "TLS: trust anchors: no memory");
	br_x509_decoder_init(dc, dn_append, &dn);
	br_x509_decoder_push(dc, der, len);
	pk = br_x509_decoder_get_pkey(dc);
	err = br_x509_decoder_last_error(dc);
	if (pk == NULL || err != 0 || dn.overflow || dn.nomem) {
		r = hz_errmsg_set(&cfg->err, dn.nomem ? -HZ_ENOMEM : -HZ_EINVAL,
				  "TLS: trust anchors: certificate %zu: %s",
				  cfg->nanchors + 1,
				  dn.nomem   ? "no memory"
				  : err != 0 ? tls_br_error_text(err)
					     : "malformed");
		goto out;
	}
	if (pk->key_type == BR_KEYTYPE_RSA)
		klen = pk->key.rsa.nlen + pk->key.rsa.elen;
	else
		klen = pk->key.ec.qlen;
	m = hz_malloc(dn.len + klen + 1);
	grown = hz_realloc(cfg->anchors,
			   (cfg->nanchors + 1) * sizeof(*cfg->anchors));
	if (grown != NULL)
		cfg->anchors = grown;
	if (m == NULL || grown == NULL) {
		hz_free(m);
		r = hz_errmsg_set(&cfg->err, -HZ_ENOMEM,
				  "TLS: trust anchors: no memory");
		goto out;
	}
	ta = &cfg->anchors[cfg->nanchors];
	*ta = (br_x509_trust_anchor){0};
	if (dn.len > 0)
		memcpy(m, dn.buf, dn.len);
	ta->dn.data = m;
	ta->dn.len = dn.len;
	ta->flags = br_x509_decoder_isCA(dc) ? BR_X509_TA_CA : 0;
	ta->pkey.key_type = pk->key_type;
	q = m + dn.len;
	if (pk->key_type == BR_KEYTYPE_RSA) {
		memcpy(q, pk->key.rsa.n, pk->key.rsa.nlen);
		ta->pkey.key.rsa.n = q;
		ta->pkey.key.rsa.nlen = pk->key.rsa.nlen;
		q += pk->key.rsa.nlen;
		memcpy(q, pk->key.rsa.e, pk->key.rsa.elen);
		ta->pkey.key.rsa.e = q;
		ta->pkey.key.rsa.elen = pk->key.rsa.elen;
	} else {
		memcpy(q, pk->key.ec.q, pk->key.ec.qlen);
		ta->pkey.key.ec.curve = pk->key.ec.curve;
		ta->pkey.key.ec.q = q;
		ta->pkey.key.ec.qlen = pk->key.ec.qlen;
	}
	cfg->nanchors++;
out:
	hz_free(dn.buf);
	hz_free(dc);
	return r;
}

int hz_tls_config_add_anchors(struct hz_tls_config *cfg, const void *pem,
			      size_t len)
{
	size_t before = cfg->nanchors;
	int r;

	if (cfg->role != HZ_TLS_CLIENT)
		return hz_errmsg_set(&cfg->err, -HZ_EINVAL,
				     "TLS: a server configuration takes no "
				     "trust anchors");
	r = pem_each(cfg, pem, len, "trust anchors", anchor_object, NULL);
	if (r < 0)
		return r;
	if (cfg->nanchors == before)
		return hz_errmsg_set(&cfg->err, -HZ_EINVAL,
				     "TLS: trust anchors: no CERTIFICATE in "
				     "the PEM");
	return (int)(cfg->nanchors - before);
}

/* --- the configuration ---------------------------------------------------- */

int hz_tls_config_new(enum hz_tls_role role, struct hz_tls_config **out)
{
	struct hz_tls_config *cfg = hz_calloc(1, sizeof(*cfg));

	*out = NULL;
	if (cfg == NULL)
		return -HZ_ENOMEM;
	cfg->role = role;
	cfg->handshake_timeout = HZ_TLS_HANDSHAKE_TIMEOUT_DEFAULT;
	if (tls_sessions_new(HZ_TLS_SESSIONS_DEFAULT,
			     HZ_TLS_SESSION_LIFETIME_DEFAULT,
			     &cfg->sessions) != 0) {
		hz_free(cfg);
		return -HZ_ENOMEM;
	}
	*out = cfg;
	return 0;
}

int hz_tls_config_set_sessions(struct hz_tls_config *cfg, size_t n,
			       uint64_t lifetime_ns)
{
	struct tls_sessions *s;

	if (n > HZ_TLS_SESSIONS_MAX || (n > 0 && lifetime_ns == 0))
		return hz_errmsg_set(&cfg->err, -HZ_EINVAL,
				     "TLS: a session cache holds 1 to %u "
				     "sessions (0: none) for a lifetime "
				     "above 0",
				     HZ_TLS_SESSIONS_MAX);
	if (tls_sessions_new(n, lifetime_ns, &s) != 0)
		return hz_errmsg_set(&cfg->err, -HZ_ENOMEM,
				     "TLS: no memory for a session cache");
	tls_sessions_free(cfg->sessions);
	cfg->sessions = s;
	return 0;
}

void hz_tls_config_free(struct hz_tls_config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < cfg->nchains; i++)
		chain_free(cfg->chains[i]);
	for (size_t i = 0; i < cfg->nanchors; i++)
		hz_free((void *)cfg->anchors[i].dn.data);
	hz_free(cfg->anchors);
	for (size_t i = 0; i < cfg->nalpn; i++)
		hz_free(cfg->alpn[i]);
	tls_sessions_free(cfg->sessions);
	hz_free(cfg);
}

int hz_tls_config_set_alpn(struct hz_tls_config *cfg, const char *const *names,
			   size_t n)
{
	char *copy[HZ_TLS_ALPN_MAX];

	if (n > HZ_TLS_ALPN_MAX)
		return hz_errmsg_set(&cfg->err, -HZ_EINVAL,
				     "TLS: more than %d ALPN names",
				     HZ_TLS_ALPN_MAX);
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(names[i]);

		if (len == 0 || len > 255) {
			for (size_t j = 0; j < i; j++)
				hz_free(copy[j]);
			return hz_errmsg_set(&cfg->err, -HZ_EINVAL,
					     "TLS: ALPN name %zu is empty or "
					     "longer than 255 bytes",
					     i + 1);
		}
		copy[i] = memdup(names[i], len + 1);
		if (copy[i] == NULL) {
			for (size_t j = 0; j < i; j++)
				hz_free(copy[j]);
			return hz_errmsg_set(&cfg->err, -HZ_ENOMEM,
					     "TLS: no memory for ALPN names");
		}
	}
	for (size_t i = 0; i < cfg->nalpn; i++)
		hz_free(cfg->alpn[i]);
	for (size_t i = 0; i < n; i++)
		cfg->alpn[i] = copy[i];
	cfg->nalpn = n;
	return 0;
}

void hz_tls_config_set_handshake_timeout(struct hz_tls_config *cfg, uint64_t ns)
{
	cfg->handshake_timeout = ns;
}

void hz_tls_config_set_time(struct hz_tls_config *cfg, uint64_t unix_seconds)
{
	cfg->fixed_time = unix_seconds;
}

const char *hz_tls_config_error(const struct hz_tls_config *cfg)
{
	return hz_errmsg_text(&cfg->err);
}

enum hz_tls_role hz_tls_config_role(const struct hz_tls_config *cfg)
{
	return cfg->role;
}
