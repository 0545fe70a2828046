package testkit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"testing"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/go-webauthn/webauthn/protocol/webauthncose"
)

// Authenticator is a software WebAuthn authenticator for tests: one P-256
// credential per registration, "none" attestation, answers as a browser
// would hand them to a server (PublicKeyCredential JSON). Origin and RPID
// are what it claims; tests change them to see a server refuse.
type Authenticator struct {
	Origin       string
	RPID         string
	UserVerified bool // the UV flag: a PIN or biometrics was checked
	BackedUp     bool // the BE and BS flags: a synced passkey
	creds        map[string]*softCred
}

type softCred struct {
	id     []byte
	key    *ecdsa.PrivateKey
	user   []byte
	count  uint32
	rpHash [32]byte
}

// NewAuthenticator returns an authenticator for origin and rpID that
// verifies its user.
func NewAuthenticator(origin, rpID string) *Authenticator {
	return &Authenticator{Origin: origin, RPID: rpID, UserVerified: true, creds: map[string]*softCred{}}
}

// creation is the part of the creation options the authenticator reads.
type creation struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		User      struct {
			ID string `json:"id"`
		} `json:"user"`
	} `json:"publicKey"`
}

// assertion is the part of the request options the authenticator reads.
type assertion struct {
	PublicKey struct {
		Challenge        string `json:"challenge"`
		AllowCredentials []struct {
			ID string `json:"id"`
		} `json:"allowCredentials"`
	} `json:"publicKey"`
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func (a *Authenticator) flags(extra byte) byte {
	f := byte(0x01) | extra // UP
	if a.UserVerified {
		f |= 0x04
	}
	if a.BackedUp {
		f |= 0x08 | 0x10
	}
	return f
}

func (a *Authenticator) clientData(typ, challenge string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": a.Origin, "crossOrigin": false})
	return b
}

// Create answers creation options (the server's JSON) with a new
// credential, and returns the answer and the credential's id.
func (a *Authenticator) Create(t testing.TB, options []byte) (answer []byte, credentialID string) {
	t.Helper()
	var opts creation
	if err := json.Unmarshal(options, &opts); err != nil {
		t.Fatalf("creation options: %v", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 32)
	_, _ = rand.Read(id)
	user, _ := base64.RawURLEncoding.DecodeString(opts.PublicKey.User.ID)
	c := &softCred{id: id, key: key, user: user, rpHash: sha256.Sum256([]byte(a.RPID))}
	a.creds[b64(id)] = c
	pub, err := key.PublicKey.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	raw := pub.Bytes() // 0x04 || X || Y
	cose, err := webauthncbor.Marshal(webauthncose.EC2PublicKeyData{
		PublicKeyData: webauthncose.PublicKeyData{KeyType: int64(webauthncose.EllipticKey), Algorithm: int64(webauthncose.AlgES256)},
		Curve:         1, XCoord: raw[1:33], YCoord: raw[33:]})
	if err != nil {
		t.Fatal(err)
	}
	authData := append([]byte{}, c.rpHash[:]...)
	authData = append(authData, a.flags(0x40)) // AT: attested credential data follows
	authData = binary.BigEndian.AppendUint32(authData, c.count)
	authData = append(authData, make([]byte, 16)...)                    // AAGUID
	authData = binary.BigEndian.AppendUint16(authData, uint16(len(id))) //nolint:gosec // G115: 32 bytes
	authData = append(authData, id...)
	authData = append(authData, cose...)
	att, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": authData})
	if err != nil {
		t.Fatal(err)
	}
	answer, _ = json.Marshal(map[string]any{"id": b64(id), "rawId": b64(id), "type": "public-key",
		"response": map[string]any{"clientDataJSON": b64(a.clientData("webauthn.create", opts.PublicKey.Challenge)),
			"attestationObject": b64(att), "transports": []string{"internal"}}})
	return answer, b64(id)
}

// Get answers request options with an assertion of credential (its id as
// Create returned it), counting its signature counter up by one.
func (a *Authenticator) Get(t testing.TB, options []byte, credentialID string) []byte {
	t.Helper()
	var opts assertion
	if err := json.Unmarshal(options, &opts); err != nil {
		t.Fatalf("request options: %v", err)
	}
	c := a.creds[credentialID]
	if c == nil {
		t.Fatalf("no credential %s", credentialID)
	}
	c.count++
	return a.sign(t, c, opts.PublicKey.Challenge, c.count)
}

// GetWithCount is Get with the signature counter set to count (a clone
// that is behind).
func (a *Authenticator) GetWithCount(t testing.TB, options []byte, credentialID string, count uint32) []byte {
	t.Helper()
	var opts assertion
	if err := json.Unmarshal(options, &opts); err != nil {
		t.Fatalf("request options: %v", err)
	}
	return a.sign(t, a.creds[credentialID], opts.PublicKey.Challenge, count)
}

func (a *Authenticator) sign(t testing.TB, c *softCred, challenge string, count uint32) []byte {
	t.Helper()
	rpHash := sha256.Sum256([]byte(a.RPID))
	authData := append([]byte{}, rpHash[:]...)
	authData = append(authData, a.flags(0))
	authData = binary.BigEndian.AppendUint32(authData, count)
	cd := a.clientData("webauthn.get", challenge)
	cdHash := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte{}, authData...), cdHash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, c.key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := json.Marshal(map[string]any{"id": b64(c.id), "rawId": b64(c.id), "type": "public-key",
		"response": map[string]any{"clientDataJSON": b64(cd), "authenticatorData": b64(authData), "signature": b64(sig),
			"userHandle": b64(c.user)}})
	return answer
}
