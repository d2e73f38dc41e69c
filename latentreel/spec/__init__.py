"""The vocabulary scenes are written in: what a value looks like (Spec), YAML read with the
position of every value, what a keyframe kind is, and lists of numbers in options.

It sits below the rooms that define keyframe kinds (scene, edits, feedback), so each of them
can describe its kinds without importing the registry that lists them all."""
