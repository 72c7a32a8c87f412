"""Full-text search: the tokens (tokens.py: segmenting, pinyin, the stored form, engine queries;
no database), the index kept in step (index.py), finding listings (query.py) and the suggestions
as you type (suggest.py). Imports models, errors and process only."""
