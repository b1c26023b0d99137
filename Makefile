# The two README commands are `make run` and `make test`; each sets up what is missing first.
VENV ?= .venv
export SDL_AUDIODRIVER ?= dummy

.PHONY: setup run test bench soak screenshots clean

setup:
	bash scripts/setup.sh

run: setup
	$(VENV)/bin/kiosk run --demo --screenshot-dir out/screens

test: setup
	bash scripts/test.sh

bench: setup
	$(VENV)/bin/kiosk bench --out out/bench.json
	$(VENV)/bin/kiosk bench asr
	$(VENV)/bin/kiosk bench mt
	$(VENV)/bin/kiosk bench display --with-asr

soak: setup
	$(VENV)/bin/kiosk soak --minutes 10

screenshots: setup
	$(VENV)/bin/kiosk screenshot --out docs/screen.png

clean:
	rm -rf out .pytest_cache
