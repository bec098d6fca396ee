//go:build dillws

package main

const defaultTags = "dillws"
