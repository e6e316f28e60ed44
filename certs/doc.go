// Package certs provides gatehouse's serving certificate. Either gatehouse
// manages it (SelfManaged: a CA kept in a Kubernetes Secret shared by every
// replica, a serving certificate each replica issues itself and rotates well
// before expiry, and the CA bundle written into the webhook configurations),
// or it comes from files that something else renews, such as cert-manager
// (FileSource, reloaded when the files change). Both hand certificates to
// the TLS server through GetCertificate, so a rotation never drops a request.
package certs

import (
	"crypto/tls"
	"time"
)

// Source provides the serving certificate.
type Source interface {
	// GetCertificate is tls.Config.GetCertificate.
	GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// Ready returns nil once a certificate is loaded.
	Ready() error
	// NotAfter is the expiry of the current serving certificate.
	NotAfter() time.Time
}
