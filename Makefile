# The two README commands are `make run` and `make test`; each sets up what is missing first.
VENV ?= .venv
export SDL_AUDIODRIVER ?= dummy

.PHONY: setup run test bench screenshots clean

setup:
	bash scripts/setup.sh

run: setup
	$(VENV)/bin/kiosk run --demo --screenshot-dir out/screens

test: setup
	bash scripts/test.sh

bench: setup
	$(VENV)/bin/kiosk bench --out out/bench.json

screenshots: setup
	$(VENV)/bin/kiosk screenshot --out docs/screen.png

clean:
	rm -rf out .pytest_cache
