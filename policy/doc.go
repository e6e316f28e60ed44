// Package policy turns ClusterImagePolicy and ImagePolicy resources, read
// from files or watched in the cluster, into compiled policies; matches them
// to images by canonical repository name; and evaluates a verify.Result
// against each one.
//
// Every policy is validated when it is loaded. A policy that fails is refused
// with an error saying what to fix, and the last good revision of it (if any)
// keeps serving.
package policy
