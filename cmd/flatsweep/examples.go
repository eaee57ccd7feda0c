package main

import "github.com/spf13/cobra"

// examples returns the usage examples of the commands that do not carry
// their own, by command path. TestExamplesParse runs every example line
// (and every flatsweep line of README.md) through the command's flag
// parser, so an example cannot name a flag the command lacks.
func examples() map[string]string {
	return map[string]string{
		"flatsweep run": `  flatsweep run                                   # the embedded quickstart sweep, synthetic data
  flatsweep run sweeps/quickstart.yaml --workers 2 --db sweep.db --format csv`,
		"flatsweep coordinator": `  flatsweep coordinator --listen 127.0.0.1:7070 --db sweeps.db
  flatsweep coordinator --listen 0.0.0.0:7070 --db sweeps.db --worker-token-file worker.token --client-token-file client.token --token-file admin.token`,
		"flatsweep worker": `  flatsweep worker --coordinator coord-host:7070 --slots 2 --token-file worker.token
  flatsweep worker --label gpu=a100 --drain-timeout 5m
  flatsweep worker --allow-commands --gpus 2 --work-dir /scratch/flatsweep   # also runs command trials (docs/COMMANDS.md)`,
		"flatsweep status": `  flatsweep status                                # every sweep and worker
  flatsweep status quickstart --coordinator coord-host:7070`,
		"flatsweep results": `  flatsweep results quickstart
  flatsweep results quickstart --group-by batch_size --where lr=0.1,0.2 --format csv
  flatsweep results random-search --group-by model.hidden      # an axis of any trial field, by its path`,
		"flatsweep cancel": `  flatsweep cancel quickstart                      # results already recorded are kept
  flatsweep resume quickstart                      # reopens it later`,
		"flatsweep pause":  `  flatsweep pause quickstart`,
		"flatsweep resume": `  flatsweep resume quickstart                      # a paused sweep runs on; a cancelled one reopens`,
		"flatsweep backup": `  flatsweep backup copy.db --token-file admin.token`,
		"flatsweep analyze": `  flatsweep analyze quickstart --db sweep.db
  flatsweep analyze quickstart --coordinator coord-host:7070 --format json`,
		"flatsweep report": `  flatsweep report quickstart --db sweep.db --out report/`,
		"flatsweep hessian": `  flatsweep hessian --weights model/weights.safetensors
  flatsweep hessian --weights model/weights.safetensors --spec model/trial.json --measures all --format json
  flatsweep hessian --weights model/weights.safetensors --alpha-scale 0:10   # Dinh's T_α on pair 0
  flatsweep hessian --weights model/weights.safetensors --examples-file model/result.json   # the trial's own curvature examples`,
		"flatsweep migrate": `  flatsweep migrate --db sweeps.db --data-root /data`,
		"flatsweep db": `  flatsweep db check --db copy.db
  flatsweep db salvage --db bad.db --out new.db`,
		"flatsweep db check":   `  flatsweep db check --db copy.db`,
		"flatsweep db salvage": `  flatsweep db salvage --db bad.db --out new.db`,
		"flatsweep version":    `  flatsweep version`,
	}
}

// setExamples gives every command without an example its entry of examples.
func setExamples(root *cobra.Command) {
	ex := examples()
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Example == "" {
			c.Example = ex[c.CommandPath()]
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}
