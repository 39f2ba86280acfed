"""What the template's tests (tests/) and benchmarks (bench/) share; they import it, not each other.

- matrix: the answer matrix from copier.yml (`Case`, `cases()`, `valid_cases()`, `invalid_cases()`,
  `each_case()`) and working copies of the template.
- project: render a case with Copier, keeping every answer Copier computed; run commands in it.
- postgres: the PostgreSQL server the cases use: databases recreated, dropped, connections counted.
- ports: a free port, and waiting until a process listens on it.
- shipfiles: a rendered project's README commands, workflow, Dockerfile and .env.example, read.
"""
