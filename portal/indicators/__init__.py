"""The indicators page: figures the ANS and the regional programmes ask establishments to follow."""
