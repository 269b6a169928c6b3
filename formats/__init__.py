"""The shared data formats of ivote: one home for every object that is signed, hashed or exchanged.

Every role (voter app, collector, ceremonies, tallier, verifier) imports its formats from here;
nothing about a format is written twice. The byte encoding of every object is given by
`canonical.encoding`; the prose spec is docs/spec.md.
"""
