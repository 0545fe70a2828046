package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"

	"github.com/authsvc/authsvc/pkg/domain"
)

// Signing algorithms. HS256 signs with auth.secret_key; the others with a
// key pair from the database.
const (
	AlgHS256 = "HS256"
	AlgEdDSA = "EdDSA"
	AlgES256 = "ES256"
	AlgRS256 = "RS256"
)

// rsaBits is the size of generated RS256 keys.
const rsaBits = 2048

// AsymmetricAlgs lists the algorithms GenerateKey accepts.
func AsymmetricAlgs() []string { return []string{AlgEdDSA, AlgES256, AlgRS256} }

// KeyPair is a freshly generated key: its kid, the public key (PKIX DER) and
// the private key (PKCS #8 DER, to be sealed before it is stored).
type KeyPair struct {
	KID        string
	Alg        string
	PublicDER  []byte
	PrivateDER []byte
}

// GenerateKey makes a new key pair for alg (EdDSA = Ed25519, ES256 = P-256,
// RS256 = RSA 2048). Its kid is the algorithm in lower case, a dash, and
// the RFC 7638 thumbprint of the public JWK ("eddsa-Qw…"): unique, and never
// starting with "-" (which a command line would take for a flag).
func GenerateKey(alg string) (*KeyPair, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case AlgEdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	case AlgES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case AlgRS256:
		priv, err = rsa.GenerateKey(rand.Reader, rsaBits)
	default:
		return nil, domain.Errorf(domain.EINVALID, domain.MsgKeyAlgUnsupported, alg)
	}
	if err != nil {
		return nil, fmt.Errorf("token: generate %s key: %w", alg, err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return nil, fmt.Errorf("token: marshal public key: %w", err)
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("token: marshal private key: %w", err)
	}
	jwk, err := publicJWK(alg, "", priv.Public())
	if err != nil {
		return nil, err
	}
	return &KeyPair{KID: strings.ToLower(alg) + "-" + thumbprint(jwk), Alg: alg, PublicDER: pubDER, PrivateDER: privDER}, nil
}

// jwk is one public JSON Web Key (RFC 7517) as published in JWKS.
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	Kid string `json:"kid,omitempty"`
	Alg string `json:"alg,omitempty"`
	Use string `json:"use,omitempty"`
}

var b64 = base64.RawURLEncoding

// publicJWK describes pub as a JWK with kid, alg and use "sig".
func publicJWK(alg, kid string, pub crypto.PublicKey) (jwk, error) {
	out := jwk{Kid: kid, Alg: alg, Use: "sig"}
	switch k := pub.(type) {
	case ed25519.PublicKey:
		out.Kty, out.Crv, out.X = "OKP", "Ed25519", b64.EncodeToString(k)
	case *ecdsa.PublicKey:
		ecdh, err := k.ECDH()
		if err != nil {
			return jwk{}, fmt.Errorf("token: ec key: %w", err)
		}
		raw := ecdh.Bytes() // 0x04 || X || Y, 32 bytes each on P-256
		out.Kty, out.Crv = "EC", "P-256"
		out.X, out.Y = b64.EncodeToString(raw[1:33]), b64.EncodeToString(raw[33:65])
	case *rsa.PublicKey:
		out.Kty = "RSA"
		out.N = b64.EncodeToString(k.N.Bytes())
		out.E = b64.EncodeToString(big.NewInt(int64(k.E)).Bytes())
	default:
		return jwk{}, fmt.Errorf("token: unsupported public key type %T", pub)
	}
	return out, nil
}

// thumbprint is the RFC 7638 SHA-256 thumbprint of a public JWK: the
// required members in lexicographic order, no spaces.
func thumbprint(k jwk) string {
	var canon string
	switch k.Kty {
	case "OKP":
		canon = fmt.Sprintf(`{"crv":%q,"kty":"OKP","x":%q}`, k.Crv, k.X)
	case "EC":
		canon = fmt.Sprintf(`{"crv":%q,"kty":"EC","x":%q,"y":%q}`, k.Crv, k.X, k.Y)
	case "RSA":
		canon = fmt.Sprintf(`{"e":%q,"kty":"RSA","n":%q}`, k.E, k.N)
	}
	sum := sha256.Sum256([]byte(canon))
	return b64.EncodeToString(sum[:])
}

// secretKID is the kid of HS256 tokens: derived from a hash of the secret,
// stable across restarts and replicas, and revealing nothing about it.
func secretKID(secret []byte) string {
	h := sha256.New()
	h.Write([]byte("authsvc hs256 kid\x00"))
	h.Write(secret)
	return "hs256-" + b64.EncodeToString(h.Sum(nil)[:12])
}

// jwksDoc is the JSON Web Key Set document.
type jwksDoc struct {
	Keys []jwk `json:"keys"`
}

func marshalJWKS(keys []jwk) []byte {
	if keys == nil {
		keys = []jwk{}
	}
	b, _ := json.Marshal(jwksDoc{Keys: keys}) // plain strings: cannot fail
	return b
}
