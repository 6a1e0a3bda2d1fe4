// Package docs holds the documentation beyond the README, one Markdown file
// a topic. It has no code; its test keeps the links of the README and of
// these files pointing at files and headings that exist.
package docs
