// Package repotest holds tests over the whole repository: every package has a
// package doc comment and every exported identifier has a doc comment.
package repotest
