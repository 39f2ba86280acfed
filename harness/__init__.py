"""What the template's tests (tests/) and benchmarks (bench/) share; they import it, not each other.

- matrix: the answer matrix from copier.yml (`Case`, `cases()`, `valid_cases()`, `invalid_cases()`,
  `each_case()`) and working copies of the template.
- project: render a case with Copier, keeping every answer Copier computed; run commands in it.
- bytecode: run by a project's venv after install: its dependencies' bytecode, shared by all venvs.
- postgres: the PostgreSQL server the cases use: databases recreated, dropped, connections counted.
- mysql: the same for the MySQL/MariaDB server the MySQL cases use (TEMPLATE_MYSQL_URL).
- ports: a free port, and waiting until a process listens on it.
- pgbouncer: a PgBouncer in transaction mode in front of the server, started as the project's
  account.
- shipfiles: a rendered project's README commands, workflow, Dockerfile and .env.example, read.
"""
