// Package webhook is where admission requests enter gatehouse. The HTTP
// layer (server.go, review.go) decodes AdmissionReviews defensively and always
// answers before the API server's deadline; the Admitter (admit.go) walks
// every image of the object, asks verify and policy about each, and turns
// their verdicts into one response (response.go), metrics and an audit line.
package webhook
