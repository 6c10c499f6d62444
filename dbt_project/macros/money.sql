{#- The one money type of the warehouse: every amount in yuan (amounts, revenue, margin, profit, cost,
    budget, value, CLV, potential gap, targets, per-person margins ...) is DECIMAL(18,2).
    Why a decimal and not a double: sums of decimals are exact to the fen (0.01 yuan), in any order and
    on any number of threads, so a total in a mart equals the sum of its rows to the cent and comes out
    the same every night; BI tools (Excel, Power BI, Tableau, Superset) read DECIMAL(p,2) as a currency
    or fixed-point number and show it without 0.30000000000000004. 18 digits hold amounts up to 10^16 yuan.
    Rates, shares, probabilities, scores and model parameters stay DOUBLE.
    Cast where an amount is computed (staging/int_ models), and again after an aggregate: DuckDB widens
    sum(DECIMAL(18,2)) to DECIMAL(38,2), and a product of a decimal and a rate is a DOUBLE. The cast
    rounds half away from zero to the cent. The contracts (models/marts/*/_*__models.yml data_type) name
    the same type, and tests/test_dbt_structure.py checks that every money column in the marts has it. -#}
{% macro money_type() -%}
    decimal(18,2)
{%- endmacro %}

{% macro money(expr) -%}
    cast({{ expr }} as {{ money_type() }})
{%- endmacro %}
