-- retort:revision 42ba769839f4
-- retort:parents 1aa8dd2fee4c
-- retort:message what the app role may touch

-- retort:up
-- Written by hand: roles differ between environments, so grants are not in the models.
GRANT SELECT, INSERT, DELETE ON public.users TO speakfriend_app;
GRANT SELECT, INSERT ON public.notes TO speakfriend_app;

-- retort:down
REVOKE ALL ON public.notes FROM speakfriend_app;
REVOKE ALL ON public.users FROM speakfriend_app;
