# The targets the project started with; each is a thin wrapper over npm scripts.
.PHONY: build run test clean bench

build:
	npm run build

run: build
	npm run demo

test:
	npm test

bench: build
	npm run bench -- pool

clean:
	rm -rf dist demo/data demo/cluster
