package main

func (s *session) startEditor(lines chan<- []byte) *editor { return nil }

type editor struct{}

func (ed *editor) stop() {}
