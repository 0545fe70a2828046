package httpapi

import (
	"net/http"

	"github.com/authsvc/authsvc/pkg/domain"
)

type totpEnrollResponse struct {
	Secret     string `json:"secret"`
	OTPAuthURI string `json:"otpauth_uri"`
	QRCode     string `json:"qr_code"`
}

func (s *Server) mfaEnroll(w http.ResponseWriter, r *http.Request, p *domain.Principal) {
	var req struct {
		Password string `json:"password"`
	}
	// The body is optional: a caller who signed in within the last minutes
	// may send none.
	if r.ContentLength != 0 {
		if err := decodeJSON(w, r, &req); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	e, err := s.deps.MFA.EnrollTOTP(r.Context(), p, req.Password)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, totpEnrollResponse{Secret: e.Secret, OTPAuthURI: e.URI, QRCode: e.QRCode})
}

type recoveryCodesResponse struct {
	Message       string   `json:"message"`
	RecoveryCodes []string `json:"recovery_codes"`
}

func (s *Server) mfaVerify(w http.ResponseWriter, r *http.Request, p *domain.Principal) {
	var req struct {
		Code string `json:"code"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	codes, err := s.deps.MFA.ConfirmTOTP(r.Context(), p, req.Code)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, recoveryCodesResponse{Message: domain.MsgMFAEnabled, RecoveryCodes: codes})
}

func (s *Server) mfaDisable(w http.ResponseWriter, r *http.Request, p *domain.Principal) {
	var req struct {
		Password     string `json:"password"`
		Code         string `json:"code"`
		RecoveryCode string `json:"recovery_code"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.deps.MFA.DisableTOTP(r.Context(), p, req.Password, req.Code, req.RecoveryCode); err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, messageResponse{domain.MsgMFADisabled})
}

func (s *Server) mfaChallenge(w http.ResponseWriter, r *http.Request) {
	var req struct {
		MFAToken     string `json:"mfa_token"`
		Code         string `json:"code"`
		RecoveryCode string `json:"recovery_code"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	tok, err := s.deps.MFA.Challenge(r.Context(), req.MFAToken, req.Code, req.RecoveryCode)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, newTokenResponse(tok))
}

// mfaRequiredResponse is a login that needs its second factor.
type mfaRequiredResponse struct {
	MFARequired bool     `json:"mfa_required"`
	MFAToken    string   `json:"mfa_token"`
	Methods     []string `json:"methods"`
}

// writeLogin renders a login: the access token, or the request for a
// second factor.
func writeLogin(w http.ResponseWriter, tok *domain.AccessToken) {
	if tok.MFA != nil {
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, http.StatusOK, mfaRequiredResponse{MFARequired: true, MFAToken: tok.MFA.Token, Methods: tok.MFA.Methods})
		return
	}
	writeJSON(w, http.StatusOK, newTokenResponse(tok))
}
